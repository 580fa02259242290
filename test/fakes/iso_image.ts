// Test helper: the ISO writer lives with the machine (npm start builds its CD with it).
export * from '../../src/machine/iso_image.ts';
