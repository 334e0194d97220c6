"""`python -m mock_server` is `fintesk-mock`."""

from mock_server.cli import main

main(prog_name="fintesk-mock")
