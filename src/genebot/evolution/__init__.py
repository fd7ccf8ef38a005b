"""Strategy evolution with DEAP: genomes of typed rule trees, NSGA-II search on walk-forward
folds with held-out scoring, and the Hall of Fame."""
