/**
 * Registers the built-in methods (one folder each under ../methods). Every module that looks editors up by kind
 * imports this file, so the registry is complete however the package is entered (index, CLI, or a deep import).
 */
import '../methods/ft';
import '../methods/hiedit';
import '../methods/hiedit-reference';
import '../methods/rledit';
import '../methods/mend';
import '../methods/random-k';
import '../methods/fixed-k';
import '../methods/all';
import '../methods/noop';
