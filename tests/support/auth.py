"""Drive the account forms the way a browser does."""

import re


class AuthActions:
    """Sign up, log in and out through the real forms, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        page = self.client.get(path, follow_redirects=True).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def post(self, path: str, data: dict | None = None, token_from: str = "/login", **kwargs):
        data = {**(data or {}), "csrf_token": self.csrf_token(token_from)}
        return self.client.post(path, data=data, **kwargs)

    def signup(self, email="customer@example.com", password="correct horse battery"):
        return self.post("/signup", {"email": email, "password": password}, token_from="/signup")

    def login(self, email="customer@example.com", password="correct horse battery", **extra):
        return self.post("/login", {"email": email, "password": password, **extra})

    def logout(self):
        return self.post("/logout")
