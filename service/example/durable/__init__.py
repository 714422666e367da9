"""The order example's item check as a Lambda durable function, paused on the same desk."""
