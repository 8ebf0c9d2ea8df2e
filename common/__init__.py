"""What every layer may import and that imports nothing of ours: settings, text safety, the process's lifetime."""
