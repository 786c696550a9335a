from django.db import models


class User(models.Model):
    username = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True, default="")
    joined = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.username
