"""`python -m kzcarrier.cli`."""
from .main import main

main()
