"""Know before you run: what a step will need in memory, time and money, from configs alone."""
