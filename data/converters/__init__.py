"""Conversions between the Parquet format and OpenGait's trees, run over several processes.

- ``from_pkl.convert_pkl_tree``: OpenGait pickle tree ``SRC/<subject>/<type>/<view>/*.pkl`` -> dataset;
- ``from_frames.convert_frame_tree``: raw frames ``SRC/<subject>/<type>/<view>/*.png`` -> pretreated dataset;
- ``to_pkl.export_pkl_tree``: dataset -> OpenGait pickle tree ``DST/<subject>/<type>/<view>/<view>.pkl``.

``tree`` finds the input sequences, ``pool`` runs chunks of work in spawned processes and
``conversion`` turns the chunks into shards of one dataset. Outputs are staged beside the
destination and published by one rename: an interrupted run leaves no partial output at the
destination. Workers are spawned processes, so a script calling these functions needs the usual
``if __name__ == "__main__":`` guard. This package must not define the format
(``landmarkgait.data.format``), the pretreatment (``landmarkgait.data.pretreatment``) or how
pickles are read (``landmarkgait.data.pickle_io``). Importing it imports nothing.
"""
