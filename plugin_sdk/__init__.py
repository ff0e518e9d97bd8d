"""Write pluginrt plugins as plain Python scripts."""
