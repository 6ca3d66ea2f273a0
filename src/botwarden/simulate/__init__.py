"""The traffic simulator: profiles of humans and bots, labelled events, live HTTP traffic."""
