"""Dramatiq layer: broker, progress records, middleware, actors, queue façade, workers.

The API imports ``tasks.queue`` only; workers call ``tasks.worker``.
"""
