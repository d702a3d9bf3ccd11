from __future__ import annotations

from django.urls import path

from .views import tokens_page

urlpatterns = [
    path("account/api-tokens/", tokens_page.token_list, name="api_tokens"),
    path("account/api-tokens/<uuid:code>/revoke/", tokens_page.token_revoke, name="api_token_revoke"),
]
