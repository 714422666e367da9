"""Bolt listeners, registered per kind: actions (buttons, menus), commands, views (modals)."""
