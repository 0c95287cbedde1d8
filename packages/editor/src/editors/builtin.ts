/**
 * Registers the built-in methods. Every module that looks editors up by kind imports this file, so the
 * registry is complete however the package is entered (index, CLI, or a deep import).
 */
import './ft';
import './policy';
