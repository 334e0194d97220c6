"""Where an account's data comes from and goes to: fixture folders, state export and import, the generator."""
