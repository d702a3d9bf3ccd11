from django.apps import AppConfig


class LlmcoreConfig(AppConfig):
    name = "llmcore"
