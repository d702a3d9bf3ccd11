from .portfolio import team_home

# Scaffolding: replaced by the use case views.
usecase_list = team_home


def usecase_detail(request, team_slug, code):
    return team_home(request, team_slug)


usecase_edit = usecase_stage = usecase_delete = usecase_detail
