from .portfolio import team_home

# Scaffolding: replaced by the prioritisation matrix view.
matrix = team_home
