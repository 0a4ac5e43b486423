"""Train: the experiment's settings, the buttons, the live plots and the test gallery."""
