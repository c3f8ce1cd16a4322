"""What every form check shares."""

from __future__ import annotations

from starlette.datastructures import FormData

# Field name -> a message that starts with the field's label.
FieldErrors = dict[str, str]


def form_strings(form: FormData) -> dict[str, str]:
    """The submitted text fields; file parts are not values to check."""
    return {k: v for k, v in form.items() if isinstance(v, str)}
