"""The feedback loop: review of false-positive / false-negative reports, their traffic as
training labels, retraining with gates, and promotion (see docs/feedback-loop.md)."""
