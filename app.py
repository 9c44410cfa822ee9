"""Run Matchday: ``python app.py`` (first start seeds the demo org; see README.md)."""

from scoreboard import create_app  # ``flask --app app ...`` finds this factory

if __name__ == "__main__":
    from scoreboard.server import serve

    serve(create_app())
