"""Code that runs on a Ray Train worker: the stage loop, checkpoints, evaluation on the workers."""
