"""Notifications: events worth telling, email and webhook deliveries, each person's choices."""
