from speakup import create_app

app = create_app()
