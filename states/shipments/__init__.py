"""Shipments in the post (寄递): the courier desk's delivery confirmation (妥投确认)."""
