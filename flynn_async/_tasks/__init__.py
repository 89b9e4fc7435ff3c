"""The task engine: the handle of a long-running server task, whichever API made it.

``_task`` waits (polling), counts pages, fetches them with bounded fan-out and streams them;
``_checkpoint`` keeps fetched pages on disk; ``_types`` holds the task's state and progress.
Imports only :mod:`flynn_async._core` and :mod:`flynn_async._http`.
"""
