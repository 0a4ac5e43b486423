"""The guided tour: ConvNetJS's digit lesson inside the workbench.

``tour.Tour`` runs it in the window (Qt); ``steps`` reads and checks the steps file and can
build a step's experiment without Qt (for measurements and tests).
"""
