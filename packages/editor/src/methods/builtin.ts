/**
 * The list of built-in methods (one folder each beside this file); importing a folder registers its factory. Every
 * module that looks editors up by kind imports this file, so the registry is complete however the package is entered
 * (index, CLI, or a deep import). A new method is a new folder here plus its line below.
 */
import './ft';
import './hiedit';
import './hiedit-reference';
import './rledit';
import './mend';
import './random-k';
import './fixed-k';
import './all';
import './noop';
