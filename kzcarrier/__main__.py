"""`python -m kzcarrier`."""
from .cli.main import main

main()
