"""What every workload runs on: settings, result rows, timing helpers, the embedded
PostgreSQL, the report printer and the HTTP load generator."""
