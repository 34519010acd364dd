# C declaration of the anxiety formula (simulation/anxiety.py): the compiled session step calls it directly.
cpdef double score(double severity, double offset, double error, double mean, double slope, double severity_mean,
                   double error_sd, double top)
