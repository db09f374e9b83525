"""Gait silhouettes from videos: background subtraction, conversion to a dataset, synthetic test videos.

- ``silhouettes.extract_silhouettes``: one video -> full-frame person masks (OpenCV MOG2 or KNN
  background subtraction warmed up on the first frames, shadows dropped, morphological clean-up,
  the largest person-sized blob), with the options of ``settings.SubtractionSettings``;
- ``sources.resolve_videos``: a video file, a tree ``SRC/<subject>/<type>/<view>.{mp4,avi}`` or a CSV
  manifest -> checked ``(subject, type, view, path)`` items;
- ``convert.convert_videos``: items -> pretreated Parquet dataset, one Ray task per chunk of videos;
- ``synthetic.generate_videos``: the synthetic walkers of ``landmarkgait.data.synth`` filmed in
  colour over a textured background, with ground-truth masks beside each video (``scene`` paints
  the frames);
- ``tasks.run_ray_tasks``: the bounded, cancellable Ray task loop both of them use.

It must not define the format, the pretreatment (``landmarkgait.data.pretreatment``) or the walker
(``landmarkgait.data.synth``), nor start Ray: callers run it inside
``landmarkgait.pipelines.runtime.ray_runtime.ray_session``. Importing it imports nothing.
"""
