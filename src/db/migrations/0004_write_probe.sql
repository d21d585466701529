CREATE TABLE `write_probe` (
	`id` integer PRIMARY KEY NOT NULL,
	`filler` blob NOT NULL
);
