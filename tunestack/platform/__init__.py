"""Everything that touches the outside world: Ray adapters, the simulator, the decorator and runner,
MLflow tracking, the CLI.  Modules here import Ray or MLflow; the algorithm cores never do."""
