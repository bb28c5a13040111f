# daemon: the front door (main, reload, signals, wiring)
