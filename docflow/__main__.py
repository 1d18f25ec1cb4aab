from docflow.cli import app

app(prog_name="docflow")
