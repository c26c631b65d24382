"""The scenarios of the summarisation task's note generator (:mod:`sftdpo.tasks.summary_notes`):
one function per scenario, ``(rng, patient, variant) -> _Case`` (:mod:`.case`), in three modules
by kind."""
