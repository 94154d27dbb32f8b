"""Storage: peewee models and migrations, repositories, snapshot store, broker segment log, files."""
