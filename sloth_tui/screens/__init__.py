"""The console's screens (one per module) and its dialogs."""
