"""Reading the LIN dataset layout and making its evaluation splits."""
