"""The alert kinds temperature_monitor publishes on `alerts` (refs = [fridge_id]) and the
staff console reads: one place for the contract between them."""

KIND_HIGH = 'temperature_high'
KIND_LOW = 'temperature_low'
KIND_RECOVERED = 'temperature_recovered'
KIND_SENSOR_DEAD = 'temperature_sensor_dead'
KIND_SENSOR_RECOVERED = 'temperature_sensor_recovered'
TEMPERATURE_ALERT_KINDS = frozenset({KIND_HIGH, KIND_LOW, KIND_RECOVERED, KIND_SENSOR_DEAD,
                                     KIND_SENSOR_RECOVERED})
