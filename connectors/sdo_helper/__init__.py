"""The Sage Data Objects helper: a small program run by a 32-bit Python, speaking JSON lines on stdin/stdout.

Why a separate process: SDO is a 32-bit in-process COM server and LedgerBridge is a 64-bit program, so the
app cannot load it; a helper of the right bitness can (docs/writing-sage.md, "The 64/32-bit design"). A crash
inside COM then ends the helper, never the app.

This package imports nothing of the project and nothing outside the standard library except pywin32, and that
only in ``com.py`` when the real COM binding is asked for: it runs as the top-level package ``sdo_helper``
under the shipped 32-bit Python (``python -c <boot> <folder>``, see connectors/sage50uk_sdo.py), and as
``connectors.sdo_helper`` when the 64-bit side reads its protocol. Its imports are therefore all relative.
"""
