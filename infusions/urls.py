
app_name = "infusions"

urlpatterns: list = []
