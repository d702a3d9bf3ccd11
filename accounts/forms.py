from __future__ import annotations

from django import forms

from .models import Role


class InviteForm(forms.Form):
    who = forms.CharField(
        label="Username or email",
        max_length=254,
        help_text="They become a member when they accept the invitation on their Account page.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_who(self) -> str:
        return self.cleaned_data["who"].strip()
