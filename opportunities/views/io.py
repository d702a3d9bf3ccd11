from .portfolio import team_home

# Scaffolding: replaced by the import and export views.
task_import = team_home


def portfolio_export(request, team_slug, fmt):
    return team_home(request, team_slug)
