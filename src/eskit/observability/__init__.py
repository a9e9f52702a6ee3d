"""What eskit tells operators about itself: traces, metrics and logs."""
