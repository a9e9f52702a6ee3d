"""A tiny user service whose event store is a Kafka topic.

``POST /`` takes a JSON command named by its ``type`` (``CreateUserCommand``,
``RenameUserCommand``, ``ChangeUserEmailCommand``, ``DeactivateUserCommand``), handles it
through eskit's CommandHandler on a :class:`~eskit.messaging.kafka_repository.KafkaRepository`
(which restores every user from the topic at start-up), and a consumer of the same topic
keeps the read model ``GET /users/{id}`` answers from. Read top to bottom: ``domain``,
``app``, ``read_model``, ``http_api``, ``service``, ``__main__``.
"""
