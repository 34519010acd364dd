"""Reading run outputs: statistics, figures and reports."""
