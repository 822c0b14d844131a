// portcullis.v1.VirtualServices: each mutating RPC = validate → model change →
// Controller.mutate (apply + persist, atomic). Reads serve the in-memory state.
import type { Controller } from '../daemon/controller.js';
import {
  addServer, createService, deleteService, findService, readIpAddress, readPortNumber, removeServer,
  updateServer, updateService,
} from '../model/index.js';
import { keyFromProto, serverSpecFromProto, serviceSpecFromProto, serviceToProto } from './convert.js';
import type { VirtualServicesHandlers } from './generated/portcullis/v1/VirtualServices.js';
import { unary } from './status.js';

export function virtualServicesHandlers(controller: Controller): VirtualServicesHandlers {
  return {
    CreateVirtualService: unary(async (request) => {
      const spec = serviceSpecFromProto(request.service, 'service');
      return serviceToProto(await controller.mutate((state) => createService(state, spec)));
    }),

    GetVirtualService: unary((request) => {
      const key = keyFromProto(request.key, 'key');
      return { ...serviceToProto(findService(controller.state, key, 'key')), generation: controller.generation };
    }),

    // Every read carries the configuration generation it was read at (ApplyState's expected_generation).
    ListVirtualServices: unary(() => ({ services: controller.state.services.map(serviceToProto), generation: controller.generation })),

    UpdateVirtualService: unary(async (request) => {
      const spec = serviceSpecFromProto(request.service, 'service');
      return serviceToProto(await controller.mutate((state) => updateService(state, spec, request.replaceServers)));
    }),

    DeleteVirtualService: unary(async (request) => {
      const key = keyFromProto(request.key, 'key');
      await controller.mutate((state) => deleteService(state, key));
      return {};
    }),

    AddRealServer: unary(async (request) => {
      const key = keyFromProto(request.service, 'service');
      const server = serverSpecFromProto(request.server, 'server');
      return serviceToProto(await controller.mutate((state) => addServer(state, key, server)));
    }),

    UpdateRealServer: unary(async (request) => {
      const key = keyFromProto(request.service, 'service');
      const server = serverSpecFromProto(request.server, 'server');
      return serviceToProto(await controller.mutate((state) => updateServer(state, key, server)));
    }),

    RemoveRealServer: unary(async (request) => {
      const key = keyFromProto(request.service, 'service');
      const address = readIpAddress(request.address, 'address');
      const port = readPortNumber(request.port, 'port');
      return serviceToProto(await controller.mutate((state) => removeServer(state, key, address, port)));
    }),
  };
}
