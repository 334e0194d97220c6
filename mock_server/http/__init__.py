"""How a request travels through Connexion: routing, prepared validation, kept answers, the Fintesk envelope."""
