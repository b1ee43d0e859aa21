#!/usr/bin/env node
// `kubectl nsync …`: kubectl runs the first `kubectl-nsync` on PATH with the arguments after the
// plugin name (its global flags such as --context and -n among them) and its own environment
// (KUBECONFIG), as for every kubectl plugin. The same CLI as `nsync`, with kubectl's name in usage.
import { launch } from './launch.js';

void launch('kubectl nsync');
